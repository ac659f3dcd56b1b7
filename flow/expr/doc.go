// Package expr evaluates the value notation of OMFLOW flows: references to flow
// variables ($(var)), ticket fields (#(FORMITM_n)), the group and user parts of
// an h_group field (#G1(...), #G2(...)) and literals; it applies assignments
// and decides switch rules. It is pure: the caller supplies the values through
// an Env.
package expr
