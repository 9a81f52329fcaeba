/* samsa: placeholder until the admin CLI lands. */
#include <stdio.h>
int main(void) { return 0; }
