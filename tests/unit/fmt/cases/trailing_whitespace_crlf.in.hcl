a = 1   
bb = "x"	


/* block   
   comment	
*/  
c {	
  d = 2  # c   
}