"""Singer tap for Acumatica ERP."""
