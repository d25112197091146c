from rvrota.cli import main

main()
