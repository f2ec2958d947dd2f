from toy_platform.cli import main

main()
