from alo185.cli import main

raise SystemExit(main())
