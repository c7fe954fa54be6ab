from bigquery_compat.sandbox import main

main()
