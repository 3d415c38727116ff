// Two translation units include the header (twice each): the link fails if it
// defines anything non-inline, and the guard must make the second include a no-op.
#include <mongoelector.hpp>
#include <mongoelector.hpp>

#include <string>

std::string double_include_a() {
    mongoelector::CancelToken token;
    mongoelector::Cancel cancel(token);
    return mongoelector::version() + (cancel.capi() == token.capi() ? "|from a" : "|wrong");
}
