"""``python -m harness`` is the ``chaos-harness`` command."""

from harness.cli import main

raise SystemExit(main())
