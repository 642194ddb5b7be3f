from ops.cli.main import main

main()
