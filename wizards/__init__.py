from . import sync_wizard
