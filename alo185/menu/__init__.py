"""The IVR's data: published menu versions, prompt audio and recordings, announcements, the lookups it asks."""
