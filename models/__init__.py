from . import object_type
from . import remote_account
from . import record_line
from . import qbo_company
from . import billcom_org
from . import connection
from . import link
from . import sync_run
