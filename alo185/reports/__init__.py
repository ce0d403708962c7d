"""The municipality's reports across features (calls with queue figures, ISO 10002, the month), laid out
once as tables (``tables``) and exported as CSV, XLSX and PDF (``export``); the admin renders them."""
