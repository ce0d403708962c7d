"""Non-conforming service and corrective actions (DİF) in the admin: thin forms over ``alo185.quality``."""
