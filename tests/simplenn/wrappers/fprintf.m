function varargout = fprintf (varargin)
% Records the arguments of every fprintf call (the format and the full-precision numbers behind
% simpleNN's %g progress lines), then prints as the built-in fprintf does.
global SIMPLENN_FPRINTF_LOG
SIMPLENN_FPRINTF_LOG{end+1} = varargin;
[varargout{1:nargout}] = builtin ('fprintf', varargin{:});
end
