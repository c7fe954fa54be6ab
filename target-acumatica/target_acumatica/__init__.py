"""Singer target that posts journal transactions and reference records into Acumatica ERP."""
