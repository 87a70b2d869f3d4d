#  matcher tests
