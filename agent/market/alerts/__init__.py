"""Alert rules: a small deterministic language, compiled from structured conditions and
evaluated in bulk with numpy.

- `rules`: the compiled rule (`feature op threshold`) and `compile_rule`, its validation;
- `parsing`: the `/alert SYMBOL ...` grammar (`parse_condition`);
- `streaming`: indicators kept current bar by bar in O(1) (`Streaming`, `FeatureBoard`);
- `evaluation`: many rules checked together as numpy columns (`RuleArrays`).

Invariant: whether a rule fires is plain arithmetic on the numbers handed in. No I/O, no
clock of its own, no model. The names below are the package's public API.
"""

from agent.market.alerts.evaluation import Firing, RuleArrays
from agent.market.alerts.parsing import parse_condition
from agent.market.alerts.rules import INDICATORS, Kind, Mode, Rule, bad_alert, compile_rule
from agent.market.alerts.streaming import FeatureBoard, Streaming, streaming_for

__all__ = ["INDICATORS", "FeatureBoard", "Firing", "Kind", "Mode", "Rule", "RuleArrays",
           "Streaming", "bad_alert", "compile_rule", "parse_condition", "streaming_for"]
