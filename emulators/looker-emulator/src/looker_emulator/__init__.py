"""Local emulator of the Looker API 4.0 (login, LookML explores, queries, query tasks) for tests and the sandbox."""
