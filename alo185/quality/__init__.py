"""The non-conforming service procedure: non-conformity records (``nonconformity``) and DİFs (``corrective``)."""
