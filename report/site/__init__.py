"""The tracker's own public site: static, trilingual pages built from the database and the catalogues."""
