from vaultkd.cli import main

main()
