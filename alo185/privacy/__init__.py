"""KVKK: personal data kept no longer than needed (``retention``) and erased on request (``anonymise``)."""
