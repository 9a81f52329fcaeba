/* samsa-server: placeholder until the broker lands. */
#include <stdio.h>
int main(void) { return 0; }
