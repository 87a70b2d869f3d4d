#  browser tests
