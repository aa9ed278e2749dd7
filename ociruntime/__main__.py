from ociruntime.entry import main

main()
