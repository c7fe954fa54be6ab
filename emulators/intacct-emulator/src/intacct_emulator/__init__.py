"""Local emulator of the Sage Intacct XML gateway (Web Services, DTD 3.0) for tests, benchmarks and the sandbox."""
