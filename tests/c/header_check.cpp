// The generated header compiles as C++ and links without name mangling.
#include "mongoelector.h"

#include <cstring>

int main() { return std::strcmp(me_status_name(ME_OK), "ME_OK") == 0 ? 0 : 1; }
