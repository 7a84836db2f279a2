from perfaudit.cli import main

main()
