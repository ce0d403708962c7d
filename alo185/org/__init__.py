"""The municipality: institutions, directorates and units, districts and neighbourhoods, staff accounts and roles."""
