from . import test_install
from . import test_store
from . import test_security
from . import test_lock
from . import test_sync
from . import test_connect
from . import test_rpc_secrets
from . import test_rules
