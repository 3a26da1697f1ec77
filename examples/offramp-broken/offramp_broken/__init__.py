"""A plugin that cannot be imported: it needs a module that does not exist.

offramp's tests install it next to a working plugin to show that one broken plugin is
reported by ``offramp plugins`` and breaks no other command.
"""

from __future__ import annotations

import offramp_this_module_does_not_exist  # noqa: F401
