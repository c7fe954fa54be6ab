"""Singer tap for Sage Intacct finance data (XML gateway), built with the Meltano Singer SDK."""
