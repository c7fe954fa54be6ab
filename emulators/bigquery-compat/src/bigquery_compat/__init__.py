"""A local BigQuery for z3-target-bigquery: bqemulator with offline fixes, plus service-account auth."""
