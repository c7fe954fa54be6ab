"""Singer target that posts journal transactions and reference records into Acumatica ERP, built with the Meltano Singer SDK."""
