from ascbench.cli import main

raise SystemExit(main())
