"""Singer tap that runs Looker queries (API 4.0) as streams, built with the Meltano Singer SDK."""
