#  proto tests
