"""The Flask admin: the application factory (``app``), a blueprint per area, what they share (``context``, ``auth``)."""
