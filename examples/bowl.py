"""The smallest program bobench can tune: no arguments, no dependencies.

It reads its parameters from the environment variable ``BOBENCH_PARAMS`` (a JSON object) and
prints its value as the last line of stdout, so any language can do the same::

    bobench objective=command 'objective.command="python bowl.py"' \
        '+objective.space.x={type: float, low: 0, high: 1}' '+objective.space.y={type: float, low: 0, high: 1}'
"""

from __future__ import annotations

import json
import os

params = json.loads(os.environ["BOBENCH_PARAMS"])
value = sum((float(v) - 0.3) ** 2 for v in params.values())  # minimum 0 where every parameter is 0.3
print(json.dumps({"value": value, "seed": int(os.environ.get("BOBENCH_SEED", "0"))}))
