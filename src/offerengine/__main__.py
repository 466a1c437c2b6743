from offerengine.cli import main

main()
