"""The IVR in the admin: view, validate and publish menu versions; upload prompt recordings; announcements."""
