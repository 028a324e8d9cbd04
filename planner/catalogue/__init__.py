"""The tool catalogue shipped with the package: ``tools.json`` (see :mod:`planner.tool_catalogue`)."""
