# The Odoo parts of the add-on need Odoo; the sync engine in sync_engine/ does
# not, and its test runner imports this package on machines without Odoo.
try:
    import odoo  # noqa: F401
except ImportError:  # pragma: no cover - outside Odoo only the engine is used
    odoo = None

if odoo is not None:
    from . import controllers
    from . import models
    from . import wizards
