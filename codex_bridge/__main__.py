from codex_bridge.cli import main

raise SystemExit(main())
