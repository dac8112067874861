"""The broker contract suite, unchanged, over `Mt5RestClient -> bridge -> PaperTerminal`.

The test functions are the broker suite's own; this folder's conftest gives them a `paper`
terminal reached over loopback HTTP, so every MT5 API call and constant crosses the bridge.
"""

from tests.broker.test_paper_contract import *
from tests.broker.test_paper_data import *
from tests.broker.test_paper_orders import *
from tests.broker.test_paper_persistence import *
from tests.broker.test_sender_changes import *
from tests.broker.test_sender_paper import *

# Deliberate difference: over the bridge a comment is the order's idempotency key, so a second,
# different order with the same comment is refused instead of sent (see
# test_bridge_idempotency.py::test_reused_comment_with_other_order_then_refused_and_one_order).
del test_comment_is_truncated_to_31_and_found_in_every_history  # noqa: F821
