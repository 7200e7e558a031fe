a  = 1
bb = "x"

c {
  d = 2 # c
}
