"""target-databricks: Singer records into Delta tables through the Databricks SQL Statement Execution API."""
