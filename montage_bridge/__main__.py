from montage_bridge.cli import main

raise SystemExit(main())
