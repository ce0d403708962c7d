"""The PBX the project provisions, configures and runs."""

from alo185.pbx.control import Pbx
from alo185.pbx.provision import ProvisionError

__all__ = ["Pbx", "ProvisionError"]
