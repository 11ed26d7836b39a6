from codex_bridge.mcp.server import main

raise SystemExit(main())
