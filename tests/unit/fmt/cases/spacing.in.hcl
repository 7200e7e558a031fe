resource_like   "a"    "b"{
  x=1
  long_name   =    "v"
  list =   [1,   2,    3]
  empty { }
  also_empty {}
  cond = var.a   ?   "x"   :   "y"
  m={
    k="v"
  }
}
